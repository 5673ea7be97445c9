"""
Two half tomograms from one sinogram
====================================

The projections of a phantom at 360 angles over a half turn are split into even and odd angles; each half is
reconstructed by filtered back-projection, and the FRC of the two reconstructions gives the resolution of the
tomogram.
"""

import numpy as np
from skimage.data import shepp_logan_phantom
from skimage.transform import radon, resize
from toupy.resolution import compute_2tomograms, fsc

rng = np.random.default_rng(6)
phantom = resize(shepp_logan_phantom(), (128, 128), anti_aliasing=True)
theta = np.linspace(0.0, 180.0, 360, endpoint=False)
sinogram = radon(phantom, theta=theta)                      # [detector, angle], angles in degrees
sinogram = sinogram + 0.05 * sinogram.std() * rng.standard_normal(sinogram.shape)

tomogram1, tomogram2 = compute_2tomograms(sinogram, theta)
result = fsc(tomogram1, tomogram2)
print(result.summary())
result.plot()
