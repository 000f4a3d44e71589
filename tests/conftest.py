"""Fixtures shared by the test modules."""
import pytest

import braininabox as bb


@pytest.fixture(scope="session")
def mnist():
    """MNIST from $BB_DATA_DIR or the download cache, loaded once per run; never downloaded
    here (BB_OFFLINE), the test is skipped when it is missing."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BB_OFFLINE", "1")
        try:
            return bb.datasets.load_mnist()
        except bb.datasets.DatasetNotFoundError as exc:
            pytest.skip("MNIST is not available (set BB_DATA_DIR to a folder holding "
                        f"mnist.npz or the IDX files): {str(exc).splitlines()[0]}")
