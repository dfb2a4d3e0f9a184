"""Django's PostgreSQL backend, noticing pooled connections that a restart of PostgreSQL cut.

A restart (or a failover) closes every connection the pool keeps idle, and the pool does not
know until one is used: unchecked, the first requests and tasks after the restart failed on
them, one per dead connection in each process. psycopg_pool's own check before handing a
connection out (Django's CONN_HEALTH_CHECKS) finds them one at a time with 1, 2, 4 s pauses
between, so right after busy minutes (many idle connections) the first call waited out the
pool's 10 s and failed anyway. Here a connection is tried (an empty query: about 0.2 ms,
measured on the 2-core test machine under load) before Django uses it; one found cut means
every idle one was cut with it, so the pool drops them all at once and a new one is taken.
tests/reliability/test_restarts.py restarts PostgreSQL under load and then with none.
"""

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        if self.pool is None:
            return connection
        try:
            connection.execute("")
        except (self.Database.OperationalError, self.Database.InterfaceError):
            self.pool.putconn(connection)  # broken: the pool discards it
            self.pool.check()  # the idle ones went with it
            connection = super().get_new_connection(conn_params)
        return connection
