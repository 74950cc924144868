"""Recording a forward pass: the traced value and numpy's protocols, one tape record per
op, inputs bound and rebuilt, read-only snapshots, writes as versions, and the
switchboard of process-wide switches a running trace throws."""
