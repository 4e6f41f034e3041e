using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Kubernetes;

/// <summary>Kubernetes and Istio YAML → IR (semantics.md §1–§2).</summary>
public static class KubernetesFrontend
{
    public static World Build(IReadOnlyList<SourceText> sources, FrontendSettings settings, DiagnosticBag bag)
    {
        throw new NotImplementedException("Kubernetes front end");
    }
}
