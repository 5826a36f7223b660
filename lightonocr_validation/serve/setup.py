"""What `invoke serve` and `invoke tune` settle alike before a server starts: the model to serve (a local one
built by `invoke tiny-model` when missing), the profile it is and the flags both add, the device and the
server's environment (with the chosen server profile's for `invoke serve`, without it for `invoke tune`).
One code path, so that a tuned configuration is served as `invoke serve` serves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lightonocr_validation.core import config, model_profiles
from lightonocr_validation.core.config import Config, LocalModel
from lightonocr_validation.core.hardware import nvidia_gpus, this_cpu
from lightonocr_validation.serve import fleet


@dataclass(frozen=True)
class ModelToServe:
    local: LocalModel | None  # --tiny or --full-size: the model this toolkit builds
    profile: model_profiles.ModelProfile | None  # None: nothing tells it (served with the card's flags, said so)
    args: tuple[str, ...]  # the local model's `vllm serve` flags, then the profile's
    # Said by the task once every flag is checked (a refused run's first line is its error): nothing tells
    # what the model is.
    note: str | None = None

    def missing(self, cfg: Config) -> bool:
        """A local model not built yet (its folder has no config.json)."""
        return self.local is not None and not (Path(cfg.model.id) / "config.json").is_file()


def model_to_serve(cfg: Config, *, tiny: bool, full_size: bool) -> ModelToServe:
    local = config.local_model(cfg, tiny=tiny, full_size=full_size)
    profile, note = profile_to_serve(cfg)
    args = [*local.serve_args] if local is not None else []
    args += model_profiles.serve_args(profile, cfg.server.max_model_len) if profile else ()
    return ModelToServe(local, profile, tuple(args), note)


def profile_to_serve(cfg: Config) -> tuple[model_profiles.ModelProfile | None, str | None]:
    """The profile of the model to serve, told by its id, its served name or its folder's config.json; None
    when nothing tells it (a folder of Pixtral-based weights under a name of its own): it is then served with the
    model card's flags, as before profiles, and the note returned says so; `invoke check` asks for
    --model-profile before any verdict. A --model-profile that names no profile stays an error."""
    try:
        return model_profiles.profile_for(cfg.model.id, cfg, root=cfg.model.served), None
    except model_profiles.ProfileError:
        if cfg.model.profile:
            raise
        names = ", ".join(cfg.model_profiles)
        return None, (
            f"no model profile tells what {cfg.model.id!r} (served as {cfg.model.served!r}) is: serving with the model "
            f"card's flags alone; for a LightOnOCR-3 checkpoint pass --model-profile NAME (one of {names})"
        )


def resolve_device(device: str) -> str:
    """--device auto is cuda when nvidia-smi finds a GPU, else cpu."""
    if config.flag_choice("--device", device, config.DEVICES) != "auto":
        return device
    return "cuda" if nvidia_gpus() else "cpu"


def server_env(cfg: Config, device: str, *, profile: bool) -> dict[str, str]:
    """The server's environment on top of ours, lowest first: cpu.env on the CPU, the chosen profile's
    (server.profile_env, when `profile`), then server.env, so that a user's server.env can turn a profile's
    lever off. `invoke tune` passes profile=False: its card baseline is the card's, and each configuration
    carries its own environment."""
    below = cfg.cpu.env if device == "cpu" else {}
    chosen = cfg.server.chosen_env() if profile else {}
    return {**below, **chosen, **cfg.server.env}


def check_fits(plan: fleet.Plan, device: str, visible: str | None) -> None:
    """The planned servers fit this machine before any starts: a GPU each on cuda, a core and memory each on cpu."""
    if device == "cuda":
        fleet.check_gpus(plan, nvidia_gpus(), visible)
    else:
        fleet.check_cpu(plan, this_cpu())
