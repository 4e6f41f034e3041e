namespace KmeshCompiler.Frontends;

/// <summary>The istiod settings that change translation (semantics.md §1), and the namespace of
/// objects written without one (kubectl's <c>-n</c>, default <c>default</c>).</summary>
public sealed record FrontendSettings(
    string RootNamespace = "istio-system",
    string TrustDomain = "cluster.local",
    string ClusterId = "Kubernetes",
    bool EnableDryRun = false,
    string DefaultNamespace = "default")
{
    public static readonly FrontendSettings Default = new();
}
