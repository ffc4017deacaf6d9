"""pyfalco-plugin-k8saudit-gke: Kubernetes audit events of GKE clusters, read from Cloud Logging."""
