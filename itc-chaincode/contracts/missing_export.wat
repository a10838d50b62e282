;; missing_export: has no finalize entry point. Refused at load.
(module
  (memory (export "memory") 1)
  (func (export "contribute"))
)
