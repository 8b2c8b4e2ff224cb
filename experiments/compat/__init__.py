"""Every private name of Syne Tune, Ray and DEHB the suite uses, one module per upstream.

Each module lists what it touches in `PRIVATE_NAMES` (object, attribute, signature);
tests/test_compat.py checks each against the installed versions and fails naming what
changed, so an upgrade cannot silently change behaviour. The rest of the suite uses only the
public-named hooks defined here. (torch's private names live in objectives/torch_compat.py,
the layer that trains.)
"""
