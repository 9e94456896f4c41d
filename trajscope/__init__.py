"""trajscope: watch and steer tree search over coding-agent trajectories.

The repository keeps its parts as top-level folders (engine, tui, themes, demo_data); this
package is the one name they install under, so they never collide with a user's own modules of
those names. In a source checkout the subpackages here are links to those folders; a wheel holds
them as plain folders.
"""
