"""
MTF of a point source
=====================

A point blurred by a Gaussian of σ = 1.2 pixels. The radial average of its transform is the MTF, here
``exp(-2 π² σ² f²)``.
"""

import numpy as np
from toupy.resolution import mtf_point_source

sigma = 1.2
yy, xx = np.mgrid[0:64, 0:64] - 32
bead = np.exp(-(yy**2 + xx**2) / (2 * sigma**2)) + 0.01

result = mtf_point_source(bead, center=(32, 32))
print(result.summary())
print(f"expected MTF50: {np.sqrt(np.log(2) / 2) / (np.pi * sigma):.4f} cycles/pixel")
result.plot()
