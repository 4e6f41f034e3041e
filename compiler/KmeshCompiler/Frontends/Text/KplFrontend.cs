using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Text;

/// <summary>The textual IR language (.kpl) → IR.</summary>
public static class KplFrontend
{
    public static World Read(SourceText source, DiagnosticBag bag)
    {
        throw new NotImplementedException("kpl front end");
    }
}
