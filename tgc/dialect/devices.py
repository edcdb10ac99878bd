"""Device names as TensorFlow writes them: ``/job:ps/task:0/device:CPU:0``, ``/gpu:1``, ``/cpu:0``.

A DeviceSpec holds the fields that were given; merging fills an outer scope's fields into an inner
request, which is how nested `tgc.device` scopes compose.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class DeviceSpec:
    job: str | None = None
    replica: int | None = None
    task: int | None = None
    device_type: str | None = None
    device_index: int | None = None

    @classmethod
    def from_string(cls, text: str) -> "DeviceSpec":
        fields = {}
        for part in [p for p in (text or "").split("/") if p]:
            key, _, value = part.partition(":")
            key = key.lower()
            if key == "job":
                fields["job"] = value
            elif key in ("replica", "task"):
                fields[key] = int(value)
            elif key == "device":
                kind, _, index = value.partition(":")
                fields["device_type"] = kind.upper()
                if index not in ("", "*"):
                    fields["device_index"] = int(index)
            elif key in ("cpu", "gpu", "accel", "tpu"):
                fields["device_type"] = key.upper()
                if value not in ("", "*"):
                    fields["device_index"] = int(value)
            else:
                raise ValueError(f"cannot parse device '{text}': unknown field '{part}'")
        return cls(**fields)

    def merge(self, inner: "DeviceSpec") -> "DeviceSpec":
        """Fields set in ``inner`` win; the rest come from self."""
        values = {
            k: getattr(inner, k) for k in self.__dataclass_fields__ if getattr(inner, k) is not None
        }
        return replace(self, **values)

    def to_string(self) -> str:
        parts = []
        if self.job is not None:
            parts.append(f"/job:{self.job}")
        if self.replica is not None:
            parts.append(f"/replica:{self.replica}")
        if self.task is not None:
            parts.append(f"/task:{self.task}")
        if self.device_type is not None:
            index = "*" if self.device_index is None else self.device_index
            parts.append(f"/device:{self.device_type}:{index}")
        return "".join(parts)


DEFAULT_DEVICE = "/job:localhost/replica:0/task:0/device:CPU:0"


def full_device_name(text: str) -> str:
    """A device name with every field: /job:localhost/replica:0/task:0/device:CPU:0."""
    spec = DeviceSpec.from_string(text)
    defaults = DeviceSpec("localhost", 0, 0, "CPU", 0)
    return defaults.merge(spec).to_string()


def matches(request: DeviceSpec, device: DeviceSpec) -> bool:
    """Every field the request sets equals the device's."""
    return all(
        getattr(request, f) is None or getattr(request, f) == getattr(device, f)
        for f in ("job", "replica", "task", "device_type", "device_index")
    )
