"""The package's public names, imported on first use."""

from __future__ import annotations

import pytest

import adamnode
from adamnode.models import AdamNODE
from adamnode.solve import ODEBlock


def test_every_public_name_resolves_to_its_home():
    assert adamnode.AdamNODE is AdamNODE and adamnode.ODEBlock is ODEBlock
    assert all(getattr(adamnode, name) is not None for name in adamnode.__all__)
    assert set(adamnode.__all__) <= set(dir(adamnode))


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'AdamNode'"):
        adamnode.AdamNode
