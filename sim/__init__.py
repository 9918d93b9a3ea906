"""Household simulator: procedurally generated homes that change over days, seen by an RGB-D camera.

Pure core (no rclpy); the ROS 2 node lives in ``sim.ros.sim_node``. Importing ``sim`` loads no renderer:
MuJoCo (or the Open3D fallback) is imported on the first render.

In-process API (stable; what perception/memory/planner/benchmark code should call)
----------------------------------------------------------------------------------
    from sim import Simulator, load_sim_config

    sim = Simulator(config=None, seed=None, renderer=None)   # config/sim.yaml by default; seed overrides
    sim = Simulator.from_yaml(path=None, seed=3)

Static layout (``sim.world``: sim.world.World)
    world.rooms       : List[Room]        room_id (int), room_type ("kitchen", "living_room", "bedroom",
                                          "bathroom", "office", "hallway", "kids_room", "dining_room"), name,
                                          min_xy_m, max_xy_m, polygon_xy_m, center_xy_m, area_m2
    world.doors       : List[Door]        room_a, room_b (-1 = front door, closed), center_xy_m, width_m
    world.furniture   : List[Furniture]   furniture_id ("kitchen/counter_1"), class_name, room_id,
                                          instance_id, center_xy_m, yaw_rad, width_m, depth_m, height_m,
                                          box (Box: center_m, half_m, yaw_rad), receptacle, surfaces, drifts
    world.objects     : List[ObjectSpec]  object_id ("mug_02"), class_name, instance_id, colour, rgb,
                                          size_label (small|medium|large), shape, size_m, home_furniture_id,
                                          habitual, consumable, appear_day
    world.grid        : nav.OccupancyGrid occupied (rows, cols) bool, resolution_m, origin_xy_m, cell_of()
    world.room_at(x, y) -> int;  world.dock_pose -> (x, y, yaw);  world.hash() -> str (sha256)
    world.instance_class_table() -> {instance_id: class};  world.instance_to_entity_id() (scorers only)

Navigation
    sim.plan_path(start_xy, goal_xy) -> Optional[List[(x, y)]]  A* on the robot-radius-inflated grid,
                                                                 shortcut; raises InputError if in collision
    sim.path_length_m(start_xy, goal_xy) -> float               inf if unreachable (Dijkstra field, cached)
    sim.planner.distance_field(start_xy) -> (rows, cols) m      many path costs from one start
    sim.drive(start_ns, start_pose, goal_pose) -> Optional[patrol.Trajectory]   timed, at robot speeds

Time and ground truth (stamps: int ns since the Unix epoch, home local time taken as UTC)
    sim.calendar : calendar.Calendar     day_start_ns(d), stamp_ns(d, time_of_day_s), day_of(t), weekday(d),
                                          weekday_name(d), date(d), is_weekend(d), describe(t)
    sim.ground_truth(num_days) -> ground_truth.GroundTruthLog   (generated on demand; ~5 ms per day)
        log.object_state(object_id, t_ns) -> ObjectState(t_ns, object_id, present, furniture_id,
                                             surface_index, room_id, position_m (x, y, z), yaw_rad, cause)
        log.object_states(t_ns) -> {object_id: ObjectState};  log.object_history(id, start_ns, end_ns)
        log.changes(start_ns, end_ns) -> [ObjectState];  log.save(path) / GroundTruthLog.load(path)
    sim.object_states(t_ns) / sim.object_state(object_id, t_ns) / sim.furniture_poses(t_ns)
    sim.load_or_create_ground_truth(path, num_days)             continue a stored world from disk
    File format: docs/ground_truth_format.md (JSONL, versioned).

Camera and patrol
    sim.intrinsics : CameraIntrinsics (config camera.width/height/hfov_deg);  sim.base_T_camera (4x4)
    sim.patrol_plan(day) -> patrol.PatrolPlan (rooms, stops, trajectory: pose_at(t_ns), stamps_ns(rate_hz))
    sim.patrol(day, max_frames=None) -> Iterator[SimFrame]      frames at camera.rate_hz along the patrol
    sim.frame_at(map_T_base, t_ns, noise=True) -> SimFrame      what the robot sees from a base pose
    sim.sweep(pose_xyyaw, t_ns, num_views=8) -> List[SimFrame]      a look around in place (planner "look")
    sim.render(map_T_camera, t_ns, width=None, height=None, noise=True) -> RGBDFrame
        SimFrame: stamp_ns, frame (RGBDFrame: rgb uint8 HxWx3, depth_m float32 metres (NaN = no return),
                  intrinsics, frame_id "camera_optical", instance_mask int32 (0 = wall/floor/ceiling)),
                  map_T_base (4x4), map_T_camera (4x4, optical), class_table {instance_id: class},
                  instance_to_object_id {instance_id: object_id/furniture_id}  <- SCORERS ONLY
    Instance ids: furniture 1..999, objects 1000+ (stable for a world).

Threads: a Simulator renders through one GL context; call render/frame_at/patrol from one thread at a
time (the ROS node does everything in its executor thread).

Render backend: MuJoCo over EGL, else OSMesa, else a pip-only numpy ray caster (sim.render.backend_choice()
says which and why; config render.backend forces one).

Determinism: world from the seed; day d's household events from (seed, d) given the state at its start;
patrol from (seed, d); camera noise from (seed, stamp). Same seed -> same world hash and same frames.
"""
from .config import SimConfig, load_sim_config  # noqa: F401
from .simulator import SceneState, SimFrame, Simulator, camera_intrinsics  # noqa: F401

__all__ = ["SimConfig", "load_sim_config", "Simulator", "SimFrame", "SceneState", "camera_intrinsics"]
