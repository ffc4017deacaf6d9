"""pyfalco-plugin-k8saudit-eks: Kubernetes audit events of EKS clusters from CloudWatch Logs."""
