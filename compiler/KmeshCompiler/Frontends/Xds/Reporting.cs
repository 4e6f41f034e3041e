using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Xds;

internal static class Reporting
{
    /// <summary>Adds a diagnostic whose object is the resource it concerns (the "object" of
    /// <c>validate --format json</c>), so the name survives when the location is a line and column.</summary>
    public static void Report(this DiagnosticBag bag, DiagnosticDescriptor d, SourceLocation loc, params object?[] args) =>
        bag.Add(d.CreateFor(loc.Resource, loc, args));
}

internal static class EnumNames
{
    public const string PolicyScopes = "GLOBAL=0, NAMESPACE=1, WORKLOAD_SELECTOR=2";
    public const string Actions = "ALLOW=0, DENY=1";
    public const string Scopes = "REGION=1, ZONE=2, SUBZONE=3, NODE=4, CLUSTER=5, NETWORK=6";
}
