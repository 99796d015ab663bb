"""The demo company: its ERP data (``python -m demo seed``, also run by `make run` on an
empty database and by deploy/provision.py --seed-demo-erp) and the demo traffic that fills
the analytics dashboards (``python -m demo.traffic``)."""
