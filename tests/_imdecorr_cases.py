"""Test images of the decorrelation tests, shared with the ImDecorr reference numbers.

Every image is rebuilt from a seeded generator (or from scikit-image's
bundled data), so the numbers in :mod:`_imdecorr_reference` can be compared
with this project's on exactly the images ImDecorr was given.
"""

import numpy as np
from scipy.ndimage import gaussian_filter


def lowpass(image, k):
    """``image`` ideally low-passed at normalised frequency ``k`` (``k/2``
    cycles/pixel, isotropic in cycles/pixel) over its last two axes."""
    fy = np.fft.fftfreq(image.shape[-2])[:, None]
    fx = np.fft.fftfreq(image.shape[-1])[None, :]
    spectrum = np.fft.fftn(image, axes=(-2, -1))
    return np.fft.ifftn(spectrum * (np.hypot(fy, fx) < k / 2.0), axes=(-2, -1)).real


def bandlimited(shape, k, noise=0.1, seed=0):
    """Gaussian white noise ideally low-passed at normalised frequency ``k``
    (:func:`lowpass`), plus ``noise`` times its standard deviation of white noise."""
    rng = np.random.default_rng(seed)
    image = lowpass(rng.standard_normal(shape), k)
    if noise:
        image = image + noise * image.std() * rng.standard_normal(shape)
    return image


def blurred(shape, sigma, noise, seed):
    """Gaussian-blurred white noise (unit variance) plus white noise of std ``noise``."""
    rng = np.random.default_rng(seed)
    image = gaussian_filter(rng.standard_normal(shape), sigma)
    return image / image.std() + noise * rng.standard_normal(shape)


def detector_mtf(shape, *, blur=0.6):
    """A counting detector's MTF on the FFT grid: the pixel's ``sinc`` times a
    Gaussian charge spread of ``blur`` pixels (power 0.25 of DC at Nyquist)."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    gauss = np.exp(-2.0 * (np.pi * blur) ** 2 * (fx**2 + fy**2))
    return np.sinc(fx) * np.sinc(fy) * gauss


def through_detector(image, *, blur=0.6):
    """``image`` (signal and noise) seen through :func:`detector_mtf`."""
    return np.fft.ifft2(np.fft.fft2(image) * detector_mtf(image.shape, blur=blur)).real


def counting_micrograph(seed=0, dose=20.0):
    """A counting-detector-like micrograph: camera as object, Poisson counts
    at ``dose`` per pixel, then the detector's MTF on signal and noise alike
    (so the noise power falls towards Nyquist)."""
    camera = skimage_image("camera")
    rng = np.random.default_rng(seed)
    counts = rng.poisson(dose * camera / camera.mean()).astype(np.float64)
    return through_detector(counts)


def skimage_image(name):
    """A scikit-image bundled image as float64 (grey)."""
    import skimage.data

    return np.asarray(getattr(skimage.data, name)(), dtype=np.float64)


#: name -> zero-argument builder of a raw image (the reference's input).
CASES = {
    "bandlimited 256x256 k0.5": lambda: bandlimited((256, 256), 0.5, 0.1, 10),
    "bandlimited 257x257 k0.5": lambda: bandlimited((257, 257), 0.5, 0.1, 10),
    "bandlimited 256x257 k0.3": lambda: bandlimited((256, 257), 0.3, 0.1, 11),
    "bandlimited 255x255 k0.7": lambda: bandlimited((255, 255), 0.7, 0.1, 12),
    "offset bandlimited 200x180 k0.6": lambda: 5.0 + bandlimited((200, 180), 0.6, 0.2, 13),
    "blurred 96x96": lambda: blurred((96, 96), 2.0, 0.2, 3),
    "blurred 103x119": lambda: blurred((103, 119), 2.0, 0.1, 0),
    "noisy blurred 128x100": lambda: blurred((128, 100), 2.0, 2.0, 1),
    "camera 512x512": lambda: skimage_image("camera"),
    "camera 111x123": lambda: skimage_image("camera")[150:261, 180:303],
    "camera 200x240": lambda: skimage_image("camera")[100:300, 150:390],
    "moon 512x512": lambda: skimage_image("moon"),
    "coins 303x384": lambda: skimage_image("coins"),
    "text 172x448": lambda: skimage_image("text"),
    "brick 512x512": lambda: skimage_image("brick"),
    "counting micrograph 512x512": counting_micrograph,
}
