using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Kubernetes;

/// <summary>Kubernetes and Istio YAML → IR (semantics.md §1–§2), with the validation catalogue of §5.
/// Documents are read one at a time into small models (<see cref="ObjectParser"/>); the world is then
/// assembled with selectors resolved the way istiod resolves them (<see cref="WorldBuilder"/>).
/// Large files are cut at document markers and the pieces read in parallel; the results are joined
/// in input order, so the output does not depend on scheduling.</summary>
public static class KubernetesFrontend
{
    /// <summary>Characters per piece of a large file.</summary>
    private const int PieceSize = 1 << 20;

    public static World Build(IReadOnlyList<SourceText> sources, FrontendSettings settings, DiagnosticBag bag)
    {
        var objects = new ObjectParser(settings, bag);
        foreach (var src in sources)
        {
            if (YamlTree.Decode(src, bag) is not { } text) continue;
            var pieces = YamlTree.Split(text, PieceSize);
            var results = new (ObjectParser Objects, DiagnosticBag Bag)[pieces.Count];
            Parallel.For(0, pieces.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Environment.ProcessorCount) }, i =>
            {
                var pieceBag = new DiagnosticBag();
                var parser = new ObjectParser(settings, pieceBag);
                foreach (var doc in YamlTree.Read(src, pieces[i].Text, pieces[i].LineOffset, pieceBag))
                    if (doc.Root is not null) parser.Document(doc.Root);
                results[i] = (parser, pieceBag);
            });
            int count = 0;
            bool errors = false;
            foreach (var (parser, pieceBag) in results)
            {
                objects.Absorb(parser);
                count += parser.ObjectCount;
                errors |= pieceBag.HasErrors;
                bag.Absorb(pieceBag);
            }
            if (count == 0 && !errors) bag.Add(Codes.NoObjects, new SourceLocation(src.DisplayPath, 1, 1));
            bag.ObjectsRead += count;
        }
        return new WorldBuilder(objects, settings, bag).Build();
    }
}
