"""
FRC of two noisy images of one object
=====================================

Two independent measurements of the same object: a random texture whose power falls as a Gaussian of the
frequency, plus white noise in each. The FRC falls where the object's power sinks below the noise.

The known answer: the expected FRC of shell ``f`` is ``S(f) / (S(f) + N)`` with ``S`` the object's power and
``N`` the noise power, so the half-bit crossing sits where the SNR per shell drops to about 0.2-0.4.
"""

import numpy as np
from toupy.resolution import fsc

rng = np.random.default_rng(0)
n = 256
fy, fx = np.fft.fftfreq(n)[:, None], np.fft.rfftfreq(n)[None, :]
spectrum = np.exp(-(fy**2 + fx**2) / (2 * 0.08**2))          # object amplitude falls with frequency
obj = np.fft.irfft2(np.fft.rfft2(rng.standard_normal((n, n))) * spectrum, s=(n, n))
noise = 0.3 * obj.std()
half1 = obj + noise * rng.standard_normal(obj.shape)
half2 = obj + noise * rng.standard_normal(obj.shape)

result = fsc(half1, half2, threshold="halfbit", pixel_size=28.6, unit="nm")
print(result.summary())

# %%
# The curve, the half-bit threshold and the crossing:
result.plot()
