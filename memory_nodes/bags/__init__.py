"""Recordings: rosbag2 bags read and written with the ``rosbags`` library (no rclpy, no rosbag2 install).

rosbag2.py: ``open_bag`` (MCAP or sqlite3 .db3, any rosbag2 metadata version rosbags reads) and
``BagWriter`` (the rosbag2 layout: metadata.yaml + one .mcap), over raw CDR bytes, so a message goes from
a bag to a ROS topic (or from a topic to a bag) without being decoded. Importers for dataset layouts
(TUM RGB-D, 7-Scenes) build their messages with the same library's typestore.
"""
