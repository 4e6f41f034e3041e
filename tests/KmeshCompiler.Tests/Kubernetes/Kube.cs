using System.Text;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Kubernetes;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Tests.Kubernetes;

/// <summary>Runs the Kubernetes front end on inline YAML and asserts diagnostics by code, line and column.</summary>
internal static class Kube
{
    public const string FileName = "t.yaml";

    public static (World World, DiagnosticBag Bag) Build(string yaml, FrontendSettings? settings = null) =>
        Build([new SourceText(FileName, Encoding.UTF8.GetBytes(yaml))], settings);

    public static (World World, DiagnosticBag Bag) Build(IReadOnlyList<SourceText> sources, FrontendSettings? settings = null)
    {
        var bag = new DiagnosticBag();
        var world = KubernetesFrontend.Build(sources, settings ?? FrontendSettings.Default, bag);
        return (world, bag);
    }

    /// <summary>A policy document in namespace <paramref name="ns"/> whose spec is <paramref name="spec"/>
    /// (indented by the caller at two spaces). The spec starts on line 6.</summary>
    public static string Policy(string spec, string name = "p", string ns = "default", string annotations = "") =>
        $"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\n{annotations}spec:\n{spec}";

    public static Policy Single(World w) => Assert.Single(w.Policies);

    public static Diagnostic Has(DiagnosticBag bag, DiagnosticDescriptor d, int line, int column)
    {
        var found = bag.Items.Where(x => x.Code == d.Code).ToList();
        var hit = found.FirstOrDefault(x => x.Location.Line == line && x.Location.Column == column);
        if (hit is null)
            throw new Xunit.Sdk.XunitException($"expected {d.Code} at {line}:{column}; got:\n{Dump(bag)}");
        Assert.Equal(d.Severity, hit.Severity);
        return hit;
    }

    public static void Lacks(DiagnosticBag bag, DiagnosticDescriptor d)
    {
        if (bag.Items.Any(x => x.Code == d.Code)) throw new Xunit.Sdk.XunitException($"unexpected {d.Code}:\n{Dump(bag)}");
    }

    public static void Clean(DiagnosticBag bag, Severity atLeast = Severity.Warning)
    {
        if (bag.Items.Any(x => x.Severity >= atLeast)) throw new Xunit.Sdk.XunitException($"expected no diagnostics of severity {atLeast} or more; got:\n{Dump(bag)}");
    }

    public static string Dump(DiagnosticBag bag) => string.Join('\n', bag.Sorted().Select(x => x.ToString()));

    /// <summary>Sequence equality (ImmutableArray compares by reference otherwise).</summary>
    public static void Eq<T>(IEnumerable<T> actual, params T[] expected) => Assert.Equal(expected, actual.ToArray());

    public static Workload Workload(World w, string name) => w.Workloads.Single(x => x.Name == name);
}
