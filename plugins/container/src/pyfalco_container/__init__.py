"""pyfalco-plugin-container: container and Kubernetes pod metadata for syscall events."""
