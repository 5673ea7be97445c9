"""
MTF of a slanted edge
=====================

An edge tilted by 5°, blurred by a Gaussian of σ = 1.5 pixels. The known answer is the Gaussian's transfer
function ``exp(-2 π² σ² f²)``: MTF50 at ``sqrt(ln 2 / 2) / (π σ)`` ≈ 0.125 cycles/pixel.
"""

import numpy as np
from scipy.special import erf
from toupy.resolution import mtf_slanted_edge

sigma, angle = 1.5, np.deg2rad(5.0)
yy, xx = np.mgrid[0:100, 0:100]
distance = (xx - 50) * np.cos(angle) - (yy - 50) * np.sin(angle)
edge = 0.1 + 0.4 * (1 + erf(distance / (sigma * np.sqrt(2))))

result = mtf_slanted_edge(edge, pixel_size=28.6, unit="nm")
print(result.summary())
print(f"expected MTF50: {np.sqrt(np.log(2) / 2) / (np.pi * sigma):.4f} cycles/pixel")
result.plot()
