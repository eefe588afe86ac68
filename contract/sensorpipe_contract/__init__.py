"""What the operator, the gateway and the Spark jobs must agree on, in one package that each
of them imports: the API's identity (:mod:`identity`), every derived name (:mod:`naming`), the
runtime config document with its JSON Schema and its one reader (:mod:`runtime`), and the
typing and range rules of a stream's fields (:mod:`fields`).

It depends on the standard library only, so the edge and Spark images carry it without the
operator's Kubernetes stack.
"""
