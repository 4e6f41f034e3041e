using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Kubernetes;

/// <summary>Kubernetes and Istio YAML → IR (semantics.md §1–§2), with the validation catalogue of §5.
/// Documents are read one at a time into small models (<see cref="ObjectParser"/>); the world is then
/// assembled with selectors resolved the way istiod resolves them (<see cref="WorldBuilder"/>).</summary>
public static class KubernetesFrontend
{
    public static World Build(IReadOnlyList<SourceText> sources, FrontendSettings settings, DiagnosticBag bag)
    {
        var objects = new ObjectParser(settings, bag);
        foreach (var src in sources)
        {
            int before = objects.ObjectCount;
            int errorsBefore = bag.Count(Severity.Error);
            foreach (var doc in YamlTree.Read(src, bag))
                if (doc.Root is not null) objects.Document(doc.Root);
            if (objects.ObjectCount == before && bag.Count(Severity.Error) == errorsBefore)
                bag.Add(Codes.NoObjects, new SourceLocation(src.DisplayPath, 1, 1));
        }
        return new WorldBuilder(objects, settings, bag).Build();
    }
}
