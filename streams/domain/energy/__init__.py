"""Pure energy core: register deltas, consumption, tce and CO2, rolling intensities, verdicts.

Imports no Kafka, faust, psycopg or HTTP library; the worker and ``greenwatch replay`` drive
the same ``EnergyEngine``.
"""
