"""The fleet simulator (``greenwatch simulate``): a province of enterprises whose monitors send
HJ 212 real-time (2011), minute (2051) and hourly (2061) data over TCP to the gateway.

Layers, pure first:

- ``profiles``: typical operating values per industry (``industries.yaml``);
- ``province``: the invented enterprises, outlets, devices and their registry;
- ``signals``: deterministic minute readings (diurnal load, O2, flow, temperature, moisture)
  and the hourly roll-up;
- ``episodes``: exceedances, calibration, maintenance, outages, flatlines, clock skew,
  corrupted frames, reconnect storms, bad passwords (spec parser and seeded plan);
- ``script``: a device's frames minute by minute, episodes applied;
- ``fleet``: the asyncio TCP side, with a simulated clock ``speed`` × faster than real time;
- ``session``: wires them together for the CLI and the demo.
"""
