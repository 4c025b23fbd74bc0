"""Code wsctl runs as part of a stack (standard library only): packaged beside the service's."""
