"""
Resolution of one image by decorrelation
========================================

An image whose spectrum is cut at 0.25 cycles/pixel (half of Nyquist), plus white noise. Decorrelation
analysis finds the cut-off: ``kcMax`` close to 0.5 of Nyquist, a resolution close to 4 pixels.
"""

import numpy as np
from toupy.resolution import decorrelation_resolution

rng = np.random.default_rng(5)
n = 256
fy, fx = np.fft.fftfreq(n)[:, None], np.fft.rfftfreq(n)[None, :]
band = np.hypot(fy, fx) < 0.25
image = np.fft.irfft2(np.fft.rfft2(rng.standard_normal((n, n))) * band, s=(n, n))
image += 0.5 * image.std() * rng.standard_normal(image.shape)

result = decorrelation_resolution(image)
print(result.summary())
result.plot()
