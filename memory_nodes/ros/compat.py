"""The rclpy calls that differ between ROS 2 Humble (Python 3.10, the robots' distribution) and Kilted (the PyPI
wheels this repository's tests run on), in one place, each choosing its branch by what the installed rclpy
has (never by the distribution's name), so one node file runs on both.

- ``init`` / ``session``: ``rclpy.init`` with the keyword arguments this rclpy accepts (``context``,
  ``domain_id``, ``signal_handler_options``: SIGINT + SIGTERM handlers where ``rclpy.signals`` has them);
  ``session`` is ``with rclpy.init():`` (Kilted only) for any distribution: init, then ``try_shutdown``;
- ``create_timer``: ``autostart=False`` is a Jazzy+ argument; elsewhere the timer is cancelled at once;
- ``warning``: ``logger.warning`` (``warn`` is the deprecated name on newer rclpy);
- ``shutdown_exceptions``: what ends a spin (KeyboardInterrupt, and ExternalShutdownException where it exists);
- ``sensor_data_qos``: ``QoSPresetProfiles.SENSOR_DATA`` or the module-level ``qos_profile_sensor_data``;
- ``parameter_descriptor``: a ParameterDescriptor without the fields this rcl_interfaces lacks;
- ``message_info_gid``: whether subscription callbacks can get the publisher's gid (MessageInfo);
- ``lifecycle_api``: rclpy.lifecycle's Node, State, TransitionCallbackReturn (Humble or later), or an
  ImportError that says so;
- ``goal_result``: (status, result) of an action's get_result response.

Every function takes the modules it needs as optional arguments (default: the installed ones, imported when
called), so tests drive both branches with stand-ins. Nothing here imports rclpy at import time.
"""
from __future__ import annotations

import inspect
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Type


def _rclpy(mod: Any = None) -> Any:
    if mod is not None:
        return mod
    import rclpy
    return rclpy


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    """Whether ``fn`` takes keyword ``name`` (or any keyword)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):       # a builtin without a signature: assume the newer API
        return True
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def signal_options(signals: str, rclpy_module: Any = None) -> Any:
    """``SignalHandlerOptions`` member for "all" (SIGINT + SIGTERM), "sigint" or "none"; None where this rclpy
    has no rclpy.signals (it then installs its default SIGINT handler)."""
    rclpy = _rclpy(rclpy_module)
    opts = getattr(getattr(rclpy, "signals", None), "SignalHandlerOptions", None)
    if opts is None:
        return None
    name = {"all": "ALL", "sigint": "SIGINT", "none": "NO"}[signals]
    return getattr(opts, name, None)


def init_kwargs(args: Optional[Sequence[str]] = None, context: Any = None, domain_id: Optional[int] = None,
                signals: str = "all", rclpy_module: Any = None) -> Dict[str, Any]:
    """The keyword arguments for this rclpy's ``init`` (those it does not take are left out)."""
    rclpy = _rclpy(rclpy_module)
    kw: Dict[str, Any] = {"args": list(args) if args is not None else None}
    if context is not None:
        kw["context"] = context
    if domain_id is not None and _accepts(rclpy.init, "domain_id"):
        kw["domain_id"] = int(domain_id)
    opt = signal_options(signals, rclpy)
    if opt is not None and _accepts(rclpy.init, "signal_handler_options"):
        kw["signal_handler_options"] = opt
    return kw


def init(args: Optional[Sequence[str]] = None, context: Any = None, domain_id: Optional[int] = None,
         signals: str = "all", rclpy_module: Any = None) -> None:
    """``rclpy.init`` with what this rclpy supports (see ``init_kwargs``)."""
    rclpy = _rclpy(rclpy_module)
    rclpy.init(**init_kwargs(args, context, domain_id, signals, rclpy))


@contextmanager
def session(args: Optional[Sequence[str]] = None, context: Any = None, domain_id: Optional[int] = None,
            signals: str = "all", rclpy_module: Any = None) -> Iterator[Any]:
    """``with rclpy.init():`` on every distribution: init, yield the context (None: the default one), then
    ``try_shutdown`` however the block ends."""
    rclpy = _rclpy(rclpy_module)
    init(args, context, domain_id, signals, rclpy)
    try:
        yield context
    finally:
        if context is not None:
            rclpy.try_shutdown(context=context)
        else:
            rclpy.try_shutdown()


def create_timer(node: Any, period_s: float, callback: Callable[[], None], *, clock: Any = None,
                 callback_group: Any = None, autostart: bool = True) -> Any:
    """``node.create_timer``; ``autostart=False`` where supported (Jazzy+), else created and cancelled."""
    kw: Dict[str, Any] = {}
    if clock is not None:
        kw["clock"] = clock
    if callback_group is not None:
        kw["callback_group"] = callback_group
    if not autostart and _accepts(node.create_timer, "autostart"):
        return node.create_timer(period_s, callback, autostart=False, **kw)
    timer = node.create_timer(period_s, callback, **kw)
    if not autostart:
        timer.cancel()
    return timer


def warning(logger: Any, message: str, **kw: Any) -> Any:
    """``logger.warning`` where it exists (``warn`` on old loggers)."""
    fn = getattr(logger, "warning", None) or logger.warn
    return fn(message, **kw)


def shutdown_exceptions(executors_module: Any = None) -> Tuple[Type[BaseException], ...]:
    """What ends a node's spin normally: KeyboardInterrupt, and ExternalShutdownException where defined."""
    if executors_module is None:
        import rclpy.executors as executors_module
    ext = getattr(executors_module, "ExternalShutdownException", None)
    return (KeyboardInterrupt,) + ((ext,) if isinstance(ext, type) and issubclass(ext, BaseException) else ())


def shutdown_race(e: BaseException, context: Any = None, rclpy_module: Any = None) -> bool:
    """Whether ``e`` is the executor finding the context already shut down: a Ctrl-C that lands while spin
    builds its next wait set raises RCLError ("the given context is not valid") instead of
    ExternalShutdownException, depending on timing. Any other error, or one while the context is still
    valid, is not."""
    if type(e).__name__ != "RCLError":
        return False
    rclpy = _rclpy(rclpy_module)
    try:
        return not rclpy.ok(context=context)
    except Exception:  # a context gone altogether is shut down too
        return True


def sensor_data_qos(qos_module: Any = None) -> Any:
    """The sensor-data QoS profile (best effort, volatile, keep last 5)."""
    if qos_module is None:
        import rclpy.qos as qos_module
    presets = getattr(qos_module, "QoSPresetProfiles", None)
    preset = getattr(presets, "SENSOR_DATA", None) if presets is not None else None
    if preset is not None:
        return getattr(preset, "value", preset)
    return qos_module.qos_profile_sensor_data


# ParameterDescriptor fields that not every supported rcl_interfaces has (dynamic_typing: Galactic on); only
# these are left out where missing, so a misspelt field still fails in the constructor, as it does without compat
OPTIONAL_DESCRIPTOR_FIELDS = frozenset({"dynamic_typing"})


def parameter_descriptor(descriptor_cls: Any = None, **fields: Any) -> Any:
    """A ParameterDescriptor with the given fields, leaving out those of OPTIONAL_DESCRIPTOR_FIELDS this
    rcl_interfaces lacks; any other field goes to the constructor (which rejects an unknown one)."""
    if descriptor_cls is None:
        from rcl_interfaces.msg import ParameterDescriptor as descriptor_cls
    known = getattr(descriptor_cls, "get_fields_and_field_types", None)
    names: Optional[List[str]] = list(known()) if callable(known) else None
    kept = {k: v for k, v in fields.items()
            if names is None or k in names or k not in OPTIONAL_DESCRIPTOR_FIELDS}
    return descriptor_cls(**kept)


def message_info_gid(subscription_module: Any = None) -> bool:
    """Whether this rclpy hands a two-argument subscription callback ``(msg, MessageInfo)`` with the
    publisher's ``publisher_gid`` (Jazzy and later); Humble calls every callback with the message only."""
    if subscription_module is None:
        import rclpy.subscription as subscription_module
    info = getattr(subscription_module, "MessageInfo", None)
    return info is not None and "publisher_gid" in getattr(info, "__annotations__", {})


def lifecycle_api(rclpy_module: Any = None) -> Tuple[Any, Any, Any]:
    """(LifecycleNode, State, TransitionCallbackReturn) from rclpy.lifecycle (Humble or later)."""
    if rclpy_module is None:
        try:
            import rclpy.lifecycle as lifecycle
        except ImportError as e:
            raise ImportError(f"rclpy.lifecycle is missing ({e}): the memory node needs ROS 2 Humble or later") from e
    else:
        lifecycle = getattr(rclpy_module, "lifecycle", None)
        if lifecycle is None:
            raise ImportError("rclpy.lifecycle is missing: the memory node needs ROS 2 Humble or later")
    return lifecycle.Node, lifecycle.State, lifecycle.TransitionCallbackReturn


def goal_result(response: Any) -> Tuple[int, Any]:
    """(status, result) of ``ClientGoalHandle.get_result_async().result()``; a response without a status
    (some stand-ins return the result itself) reads as status 0 (unknown)."""
    if response is None:
        return 0, None
    if hasattr(response, "result") and hasattr(response, "status"):
        return int(response.status), response.result
    return 0, response
