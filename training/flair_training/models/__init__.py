"""The networks: U-T&T (aerial U-Net fused with U-TAE on Sentinel-2) and the aerial-only U-Net."""

from .unet import AerialUNet
from .utae import UTAE
from .utt import UTT

__all__ = ["UTAE", "UTT", "AerialUNet"]
