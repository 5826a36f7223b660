"""Which LightOnOCR a server serves: the model profile of a run, from `--model-profile`, the name asked for, or
the `root` the server's /v1/models lists for it. Shared by `invoke check` and `invoke bench`."""

from __future__ import annotations

import dataclasses

from lightonocr_validation.core import model_profiles
from lightonocr_validation.core.config import Config
from lightonocr_validation.vllm import targets
from lightonocr_validation.vllm.client import BadAnswer, Unreachable, VllmClient


def resolve_profile(config: Config, target: targets.Target) -> model_profiles.ModelProfile:
    """The model profile of the run: `--model-profile`, else the name the server is asked for (a hub id, or a
    full-size model's name), else the `root` the server's /v1/models gives for that name (the folder or hub id
    it loaded). Neither telling is one line asking for `--model-profile` (exit 2): no guess becomes a verdict.
    Asked once per run; a fleet serves one model."""
    name = config.model.served
    try:
        return model_profiles.profile_for(name, config)
    except model_profiles.ProfileError:
        pass
    root, trouble = served_root(target, name)
    try:
        return model_profiles.profile_for(name, config, root=root)
    except model_profiles.ProfileError as error:
        raise model_profiles.ProfileError(f"{error}{trouble}") from None


def served_root(target: targets.Target, name: str) -> tuple[str, str]:
    """The `root` /v1/models lists for the model `name` ("" when not listed), and why it could not be asked."""
    client = VllmClient(dataclasses.replace(target, timeout=min(target.timeout, 30.0)))
    try:
        reply = client.get("/v1/models")
        data = reply.json().get("data") if reply.status == 200 else None
    except (Unreachable, BadAnswer, ValueError, AttributeError) as error:
        return "", f" (the server could not be asked: {error})"
    finally:
        client.close()
    listed = [entry for entry in data or [] if isinstance(entry, dict) and entry.get("id") == name]
    root = listed[0].get("root") if listed else None
    return (root, "") if isinstance(root, str) else ("", "")
