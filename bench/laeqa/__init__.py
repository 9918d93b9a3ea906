"""LA-EQA-style benchmark: long-term active embodied question answering with exact ground truth.

Generated from the simulator (homes x days of patrol, questions asked at chosen moments, truth from the
household's ground-truth log), answered by several agents on the same memory snapshots through the pure
core (MemoryView and Navigator in-process), scored per category. Run as ``python -m bench.laeqa``.
"""
