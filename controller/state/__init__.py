"""The desired state: records (model), the stores (SQLite, etcd), the operations that validate and write them (service), and the inventory the compilers read."""
