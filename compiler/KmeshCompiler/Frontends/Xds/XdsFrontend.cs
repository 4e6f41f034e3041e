using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Xds;

/// <summary>xDS snapshot (binary or proto JSON) → IR (xds.md).</summary>
public static class XdsFrontend
{
    public static World Read(SourceText source, FrontendSettings settings, DiagnosticBag bag)
    {
        throw new NotImplementedException("xDS front end");
    }
}
