"""
Spectral SNR from the FSC
=========================

``ssnr`` reports ``2 FSC / (1 - FSC)``, the spectral signal-to-noise ratio of the average of the two halves.
Its crossing of the half-bit SSNR threshold is the FSC crossing.
"""

import numpy as np
from toupy.resolution import fsc, ssnr

rng = np.random.default_rng(1)
n = 256
fy, fx = np.fft.fftfreq(n)[:, None], np.fft.rfftfreq(n)[None, :]
obj = np.fft.irfft2(np.fft.rfft2(rng.standard_normal((n, n))) * np.exp(-(fy**2 + fx**2) / 0.01), s=(n, n))
half1 = obj + 0.2 * obj.std() * rng.standard_normal(obj.shape)
half2 = obj + 0.2 * obj.std() * rng.standard_normal(obj.shape)

result = ssnr(half1, half2, pixel_size=1.06, unit="Å")
print(result.summary())
print("same crossing as the FSC:", np.isclose(result.fn_res_cpx, fsc(half1, half2).fn_res_cpx))
result.plot()
