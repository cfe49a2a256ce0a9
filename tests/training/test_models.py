"""U-T&T, U-TAE and the aerial U-Net: shapes, per-sample independence, padding, reference layout."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import CenterCrop

from flair_training.models import UTAE, UTT, AerialUNet
from flair_training.models.utt import centre_crop, footprint_size
from tests.data.flair2.reference_keys import random_state, reference_utt_shapes

#: one torch thread: on a busy 2-core machine two threads waiting on each other are far slower
pytestmark = pytest.mark.usefixtures("one_thread")


def small_utt(**kwargs) -> UTT:
    """Reference U-T&T widths on the Sentinel-2 side, a ResNet-18 aerial encoder to stay fast."""
    args = dict(encoder_name="resnet18", encoder_widths=(32, 32, 64, 64), decoder_widths=(32, 32, 64, 64))
    args |= dict(out_conv=(16, 13), n_head=8, d_model=64, tile_size=64)
    return UTT(**(args | kwargs)).eval()


def series(batch: int, dates: int, window: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    values = torch.rand(batch, dates, 10, window, window, generator=generator) + 0.1
    positions = torch.sort(torch.rand(batch, dates, generator=generator) * 600 - 230, dim=1).values
    return values, positions


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("dates", [1, 5, 12])
def test_utt_output_shapes(batch: int, dates: int) -> None:
    torch.manual_seed(0)
    model = small_utt()
    aerial = torch.rand(batch, 5, 64, 64)
    sentinel2, positions = series(batch, dates)
    with torch.no_grad():
        logits, aux = model(aerial, sentinel2, positions)
    assert logits.shape == (batch, 13, 64, 64)
    assert aux.shape == (batch, 13, 64, 64)
    assert torch.isfinite(logits).all() and torch.isfinite(aux).all()


def test_reference_sizes_build_the_published_model() -> None:
    model = UTT()
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(27.25e6, rel=1e-3)
    aerial, sentinel2, positions = torch.rand(1, 5, 512, 512), *series(1, 2, window=40)
    with torch.no_grad():
        logits, aux = model.eval()(aerial, sentinel2, positions)
    assert logits.shape == aux.shape == (1, 13, 512, 512)


def test_each_sample_is_independent_of_its_batch() -> None:
    """Batched with other samples (and padded to their length), a sample keeps its own prediction."""
    torch.manual_seed(1)
    model = small_utt(metadata_size=45)
    aerial = torch.rand(3, 5, 64, 64)
    metadata = torch.rand(3, 45)
    lengths = [4, 7, 2]
    alone = []
    padded = torch.zeros(3, 7, 10, 16, 16)
    positions = torch.zeros(3, 7)
    with torch.no_grad():
        for i, t in enumerate(lengths):
            values, days = series(1, t, seed=10 + i)
            padded[i, :t], positions[i, :t] = values[0], days[0]
            alone.append(model(aerial[i : i + 1], values, days, metadata[i : i + 1])[0])
        batched = model(aerial, padded, positions, metadata)[0]
    for i in range(3):
        torch.testing.assert_close(batched[i : i + 1], alone[i], atol=2e-4, rtol=1e-4)
    # and the samples do differ, so the comparison above is not trivially true
    assert (batched[0] - batched[1]).abs().max() > 1e-3


def test_collapsed_fusion_uses_every_sample_own_series() -> None:
    """Changing sample 1's Sentinel-2 series changes sample 1 only (the baseline took sample 0's)."""
    torch.manual_seed(2)
    model = small_utt()
    aerial = torch.rand(2, 5, 64, 64)
    sentinel2, positions = series(2, 3)
    changed = sentinel2.clone()
    changed[1] = changed[1] * 3.0
    with torch.no_grad():
        before = model(aerial, sentinel2, positions)[0]
        after = model(aerial, changed, positions)[0]
    torch.testing.assert_close(before[0], after[0])
    assert (before[1] - after[1]).abs().max() > 1e-3


def test_padded_dates_change_nothing() -> None:
    torch.manual_seed(3)
    utae = UTAE(
        10,
        encoder_widths=(32, 32, 64, 64),
        decoder_widths=(32, 32, 64, 64),
        out_conv=(16, 13),
        n_head=8,
        d_model=64,
    ).eval()
    values, days = series(1, 3)
    padded = torch.cat([values, torch.zeros(1, 2, 10, 16, 16)], dim=1)
    padded_days = torch.cat([days, torch.zeros(1, 2)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(utae(padded, padded_days), utae(values, days), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("height", "size"), [(40, 10), (16, 1), (41, 10), (17, 4)])
def test_centre_crop_matches_torchvision(height: int, size: int) -> None:
    maps = torch.rand(2, 3, height, height)
    torch.testing.assert_close(centre_crop(maps, size), CenterCrop(size)(maps))


def test_footprint_follows_the_ground_sample_distances() -> None:
    assert footprint_size(512, 0.2, 10.0, 40) == 10
    assert footprint_size(1024, 0.2, 10.0, 40) == 20
    assert footprint_size(64, 0.2, 10.0, 16) == 1
    assert footprint_size(4096, 0.2, 10.0, 40) == 40


def test_reference_state_dict_loads_strictly() -> None:
    state = random_state(reference_utt_shapes(metadata=True))
    model_state = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
    UTT(metadata_size=45).load_state_dict(model_state, strict=True)


def test_aerial_unet_shapes() -> None:
    model = AerialUNet(encoder_name="resnet18").eval()
    with torch.no_grad():
        assert model(torch.rand(3, 5, 64, 64)).shape == (3, 13, 64, 64)


def test_every_trainable_parameter_gets_a_gradient() -> None:
    """What DDP needs: no trainable parameter left out of the loss (the parts kept only for reference
    checkpoints are frozen), with and without metadata."""
    for metadata_size in (None, 45):
        model = small_utt(metadata_size=metadata_size).train()
        sentinel2, positions = series(2, 4)
        metadata = torch.rand(2, 45) if metadata_size else None
        logits, aux = model(torch.rand(2, 5, 64, 64), sentinel2, positions, metadata)
        (logits.mean() + aux.mean()).backward()
        idle = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
        assert idle == []
        frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
        assert frozen and all(
            n.startswith(
                (
                    "arch_hr.out_conv.",
                    "fm_utae_featmap_cropped.conv_list.0.",
                    "fm_utae_featmap_collapsed.mlps.0.",
                )
            )
            for n in frozen
        )
