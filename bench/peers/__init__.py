"""Peers and ceilings the churnwatch worker is compared with (benchmark code only, not the product).

Each peer runs as its own process and prints one JSON object on its last stdout line.
"""
