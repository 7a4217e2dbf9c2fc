import sys

import pytest

from hebbformer.config import TrainConfig
from hebbformer.reference import OUT, field_comments, render


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="docs/cli.md is argparse's help as Python 3.11 prints it")
def test_cli_reference_is_up_to_date():
    """docs/cli.md is generated; regenerate it with `python -m hebbformer.reference`."""
    assert OUT.read_text() == render(), "docs/cli.md is stale: run python -m hebbformer.reference"


def test_config_comments_are_read_from_the_source():
    notes = field_comments(TrainConfig)
    assert notes["batch_size"] == "episodes per step"
    assert notes["precision"].startswith("Mixed precision of the training step")
