namespace KmeshCompiler.Frontends;

/// <summary>The istiod settings that change translation (semantics.md §1).</summary>
public sealed record FrontendSettings(
    string RootNamespace = "istio-system",
    string TrustDomain = "cluster.local",
    string ClusterId = "Kubernetes",
    bool EnableDryRun = false)
{
    public static readonly FrontendSettings Default = new();
}
