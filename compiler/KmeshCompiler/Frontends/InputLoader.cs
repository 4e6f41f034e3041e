using System.Collections.Immutable;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.IO;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends;

/// <summary>The result of reading a set of inputs: the merged world, every diagnostic, and whether a
/// path could not be read at all (an environment error, exit 2, rather than an input error).</summary>
public sealed record LoadResult(World World, DiagnosticBag Diagnostics, bool EnvironmentError)
{
    /// <summary>The input files read, as displayed (stdin is "-").</summary>
    public IReadOnlyList<string> FileNames { get; init; } = [];

    public bool HasErrors => EnvironmentError || Diagnostics.HasErrors;
}

/// <summary>Reads INPUT arguments (files, directories, "-" for stdin), sends each file to its front
/// end, and merges the worlds. Kubernetes documents from every file are translated together, since
/// selectors and services refer across files.</summary>
public static class InputLoader
{
    /// <summary>Inputs larger than this are refused before parsing, so memory stays bounded.</summary>
    public const long MaxInputBytes = InputFiles.MaxInputBytes;

    public static LoadResult Load(IReadOnlyList<string> inputs, FrontendSettings settings, Func<Stream>? stdin = null)
    {
        var bag = new DiagnosticBag();
        var sources = ReadSources(inputs, bag, stdin, out bool envError);
        if (envError) return new LoadResult(World.Empty, bag, true);
        return new LoadResult(Build(sources, settings, bag), bag, false) { FileNames = [.. sources.Select(s => s.DisplayPath)] };
    }

    public static World Build(IReadOnlyList<SourceText> sources, FrontendSettings settings, DiagnosticBag bag)
    {
        var kube = new List<SourceText>();
        var worlds = new List<World>();
        foreach (var src in sources)
        {
            switch (InputKinds.Classify(src))
            {
                case InputKind.Kubernetes: kube.Add(src); break;
                case InputKind.Kpl: worlds.Add(Text.KplFrontend.Read(src, bag)); break;
                default: worlds.Add(Xds.XdsFrontend.Read(src, settings, bag)); break;
            }
            if (worlds.Count > 0 && InputKinds.Classify(src) != InputKind.Kubernetes)
                bag.ObjectsRead += worlds[^1].Workloads.Length + worlds[^1].Services.Length + worlds[^1].Policies.Length;
        }
        if (kube.Count > 0) worlds.Insert(0, Kubernetes.KubernetesFrontend.Build(kube, settings, bag));
        return Merge(worlds, bag);
    }

    /// <summary>Lists the files of every input, sorted within a directory, and reads them, by the input
    /// policy of <see cref="InputFiles"/>.</summary>
    public static IReadOnlyList<SourceText> ReadSources(IReadOnlyList<string> inputs, DiagnosticBag bag, Func<Stream>? stdin, out bool envError)
    {
        envError = false;
        var result = new List<SourceText>();
        foreach (var input in inputs)
        {
            if (input == "-")
            {
                using var s = stdin?.Invoke() ?? Console.OpenStandardInput();
                if (InputFiles.ReadBounded(s, "-", bag) is { } bytes) result.Add(new SourceText("-", bytes));
                continue;
            }
            IReadOnlyList<string> files;
            FileStat st;
            try { st = FileStat.Of(input); }
            catch (IOException e)
            {
                bag.Add(Codes.PathNotFound, new SourceLocation(input, 0, 0), $"{input} ({e.Message})");
                envError = true;
                continue;
            }
            if (st.Kind == FileKind.Directory)
            {
                int before = bag.Items.Count(d => d.Severity == Severity.Error);
                files = InputFiles.List(input, IsDirectoryInput, bag, ref envError);
                if (files.Count == 0 && bag.Items.Count(d => d.Severity == Severity.Error) == before)
                    bag.Add(Codes.NoInputs, new SourceLocation(input, 0, 0), input);
            }
            else files = [input];
            foreach (var f in files)
                if (InputFiles.Read(f, bag, ref envError) is { } bytes) result.Add(new SourceText(f, bytes));
        }
        return result;
    }

    /// <summary>Whether a file found in an input directory is read: the input extensions, test files
    /// (*.test.kpl) excepted.</summary>
    public static bool IsDirectoryInput(string path) =>
        InputKinds.Extensions.Contains(Path.GetExtension(path).ToLowerInvariant())
        && !path.EndsWith(".test.kpl", StringComparison.OrdinalIgnoreCase);

    /// <summary>Unions worlds; an object defined twice (same namespace, node, workload uid, service
    /// key or policy key) is an error naming both places.</summary>
    public static World Merge(IReadOnlyList<World> worlds, DiagnosticBag bag)
    {
        if (worlds.Count == 1) return worlds[0].Canonical();
        var ns = new Dictionary<string, Namespace>(StringComparer.Ordinal);
        var nodes = new Dictionary<string, Node>(StringComparer.Ordinal);
        var wls = new Dictionary<string, Workload>(StringComparer.Ordinal);
        var svcs = new Dictionary<string, Service>(StringComparer.Ordinal);
        var pols = new Dictionary<string, Policy>(StringComparer.Ordinal);
        foreach (var w in worlds)
        {
            // Namespaces and nodes are implied by several sources: the first description wins.
            foreach (var n in w.Namespaces) ns.TryAdd(n.Name, n);
            foreach (var n in w.Nodes) nodes.TryAdd(n.Name, n);
            foreach (var x in w.Workloads) AddUnique(wls, x.Uid, x, x.Location, "workload", bag, y => y.Location);
            foreach (var x in w.Services) AddUnique(svcs, x.Key, x, x.Location, "service", bag, y => y.Location);
            foreach (var x in w.Policies) AddUnique(pols, x.Key, x, x.Location, "policy", bag, y => y.Location);
        }
        return new World([.. ns.Values], [.. nodes.Values], [.. wls.Values], [.. svcs.Values], [.. pols.Values]).Canonical();
    }

    private static void AddUnique<T>(Dictionary<string, T> d, string key, T value, SourceLocation loc, string what, DiagnosticBag bag, Func<T, SourceLocation> locOf)
    {
        if (d.TryGetValue(key, out var first)) bag.Add(Codes.DuplicateObject, loc, what, key, locOf(first));
        else d[key] = value;
    }
}
