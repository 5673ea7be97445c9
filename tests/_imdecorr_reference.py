"""ImDecorr v1.1.8's numbers on the images of :mod:`_imdecorr_cases`.

Provenance
----------
ImDecorr (github.com/Ades91/ImDecorr, commit db536a3, "Version 1.1.8"),
unmodified ``funcs/apodImRect.m``, ``getDcorr.m``, ``getCorrcoef.m``,
``getDcorrLocalMax.m`` and ``linmap.m``, run under GNU Octave 7.3.0 (Debian
12) with a one-line ``gather.m`` (``x = gather(x)``, MATLAB's gpuArray
helper that Octave lacks). Each image of ``CASES`` was written to a .mat
file (float64) and analysed as ``main_imageDecorr.m`` does::

    [kcMax, A0] = getDcorr(apodImRect(double(im), w), linspace(0, 1, Nr), 10)

with ``w = 20`` and ``Nr`` = 50 (the reference's default) and 100 (this
project's default), and ``w`` = 18 ... 22 with ``Nr = 100`` (``kc_spread``).
Values printed with 17 significant digits, rounded here to 6 (kcMax) and 3
(A0, a multiple of 1e-3 in single precision).

``getDcorr.m`` casts the image to single precision. ``KCMAX_DOUBLE`` holds
the same runs with that one cast changed to ``double(im)`` (a local copy,
not part of ImDecorr), for the cases where the two differ: there the curves
are flat at their top and single-precision round-off moves one value across
a 1e-3 step, which moves kcMax (see ``kc_spread``).
"""

#: name -> {Nr: (kcMax, A0)} with apodImRect(im, 20).
KCMAX = {
    'bandlimited 256x256 k0.5': {50: (0.510204, 0.873), 100: (0.507377, 0.878)},
    'bandlimited 257x257 k0.5': {50: (0.510204, 0.874), 100: (0.505051, 0.879)},
    'bandlimited 256x257 k0.3': {50: (0.306122, 0.870), 100: (0.305357, 0.875)},
    'bandlimited 255x255 k0.7': {50: (0.714286, 0.874), 100: (0.707071, 0.879)},
    'offset bandlimited 200x180 k0.6': {50: (0.612245, 0.303), 100: (0.608203, 0.575)},
    'blurred 96x96': {50: (0.439234, 0.780), 100: (0.476278, 0.782)},
    'blurred 103x119': {50: (0.428571, 0.795), 100: (0.418794, 0.796)},
    'noisy blurred 128x100': {50: (0.000000, 0.000), 100: (0.000000, 0.000)},
    'camera 512x512': {50: (0.775010, 0.384), 100: (0.650995, 0.503)},
    'camera 111x123': {50: (0.988338, 0.644), 100: (0.998776, 0.847)},
    'camera 200x240': {50: (0.994169, 0.533), 100: (0.926559, 0.697)},
    'moon 512x512': {50: (0.992503, 0.168), 100: (0.996735, 0.265)},
    'coins 303x384': {50: (0.880883, 0.319), 100: (0.932354, 0.391)},
    'text 172x448': {50: (0.768763, 0.256), 100: (0.855851, 0.470)},
    'brick 512x512': {50: (0.734194, 0.126), 100: (0.797980, 0.222)},
    'counting micrograph 512x512': {50: (0.978342, 0.384), 100: (0.967146, 0.503)},
}

#: name -> {apodImRect width: kcMax} with Nr = 100.
KCMAX_BY_WIDTH = {
    'bandlimited 256x256 k0.5':
        {18: 0.507377, 19: 0.507377, 20: 0.507377, 21: 0.507377, 22: 0.505051},
    'bandlimited 257x257 k0.5':
        {18: 0.505051, 19: 0.505051, 20: 0.505051, 21: 0.505051, 22: 0.507377},
    'bandlimited 256x257 k0.3':
        {18: 0.305357, 19: 0.305357, 20: 0.305357, 21: 0.305357, 22: 0.305357},
    'bandlimited 255x255 k0.7':
        {18: 0.707071, 19: 0.707071, 20: 0.707071, 21: 0.707071, 22: 0.707071},
    'offset bandlimited 200x180 k0.6':
        {18: 0.608203, 19: 0.608203, 20: 0.608203, 21: 0.608203, 22: 0.608203},
    'blurred 96x96':
        {18: 0.477074, 19: 0.474747, 20: 0.476278, 21: 0.477074, 22: 0.477074},
    'blurred 103x119':
        {18: 0.427079, 19: 0.416468, 20: 0.418794, 21: 0.418284, 22: 0.424242},
    'noisy blurred 128x100':
        {18: 0.000000, 19: 0.000000, 20: 0.000000, 21: 0.306540, 22: 0.306540},
    'camera 512x512':
        {18: 0.514294, 19: 0.514294, 20: 0.650995, 21: 0.679992, 22: 0.681808},
    'camera 111x123':
        {18: 0.937170, 19: 0.991838, 20: 0.998776, 21: 0.994082, 22: 0.937170},
    'camera 200x240':
        {18: 0.961004, 19: 0.959188, 20: 0.926559, 21: 0.876849, 22: 0.959188},
    'moon 512x512':
        {18: 0.992654, 19: 0.993878, 20: 0.996735, 21: 0.996531, 22: 0.992450},
    'coins 303x384':
        {18: 0.842873, 19: 0.842873, 20: 0.932354, 21: 0.974288, 22: 0.875727},
    'text 172x448':
        {18: 0.764718, 19: 0.843424, 20: 0.855851, 21: 0.890807, 22: 0.810285},
    'brick 512x512':
        {18: 0.943067, 19: 0.840629, 20: 0.797980, 21: 0.818182, 22: 0.946740},
    'counting micrograph 512x512':
        {18: 0.967146, 19: 0.967146, 20: 0.967146, 21: 0.967146, 22: 0.967146},
}

#: name -> {Nr: (kcMax, A0)} in double precision, where it differs by more
#: than 0.002 (elsewhere at most 0.0017: counting micrograph, Nr = 50).
KCMAX_DOUBLE = {
    'coins 303x384': {50: (0.935860, 0.319), 100: (0.838384, 0.391)},
}

#: (name, width) of KCMAX_BY_WIDTH that a float64 computation does not
#: reproduce: the reference's single-precision round-off moves one value of a
#: flat-topped curve across a 1e-3 step. coins at 20 and brick at 22: its
#: double-precision run gives ours (0.838384 and 0.829201); moon at 19: not
#: run in double. Each of these images has a kc_spread far above one step of
#: the refined grid (and its warning).
ROUNDOFF_SENSITIVE = {
    ("coins 303x384", 20),
    ("brick 512x512", 22),
    ("moon 512x512", 19),
}
