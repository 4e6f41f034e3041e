using System.CommandLine;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Diff;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;

namespace Kmeshc.Commands;

/// <summary><c>kmeshc diff OLD NEW [--semantic] [--node N | --all-nodes]</c> (cli.md): what a change
/// does. Semantic: the connections whose decision changes (KmeshCompiler.Diff.SemanticDiff).
/// Structural: each node image's rows added, removed and changed (ImageDiff). Exit 0 equal,
/// 1 different, 2 error; inputs with errors are reported as validate reports them, and no diff is
/// printed.</summary>
public static class DiffCommand
{
    public static Command Create()
    {
        var oldArg = new Argument<string>("OLD") { Description = "The inputs before the change: a file, a directory, - for stdin, a node image, or REV:PATH (PATH at git revision REV, e.g. origin/main:deploy/)." };
        var newArg = new Argument<string>("NEW") { Description = "The inputs after the change, in the same forms as OLD." };
        var semantic = new Option<bool>("--semantic") { Description = "Compare decisions, not tables: every connection (source address and identity, destination workload, port) whose decision changes, exactly." };
        var node = new Option<string?>("--node") { Description = "Structural diff: compare the image of this node." };
        var allNodes = new Option<bool>("--all-nodes") { Description = "Structural diff: compare the images of every node of either side." };
        var format = new Option<string>("--format")
        {
            Description = "Output: text (default), json, github (workflow annotations on the responsible policy lines) or sarif (SARIF 2.1.0). github and sarif need --semantic.",
            DefaultValueFactory = _ => "text",
        };
        format.AcceptOnlyFromAmong("text", "json", "github", "sarif");
        var cmd = new Command("diff", "Show what a change does: with --semantic, the connections whose decision changes; without, the table rows that change per node image. Exit 0 equal, 1 different, 2 error.")
        {
            oldArg, newArg, semantic, node, allNodes, format,
        };
        Cli.AddInputOptions(cmd);
        cmd.SetAction(parse =>
        {
            var io = Cli.Current(parse);
            string fmt = parse.GetValue(format) ?? "text";
            bool sem = parse.GetValue(semantic);
            string? nodeName = parse.GetValue(node);
            bool all = parse.GetValue(allNodes);
            if (sem && (nodeName is not null || all)) return UsageError(io, "--node and --all-nodes are for the structural diff; --semantic compares every node at once");
            if (!sem && nodeName is not null && all) return UsageError(io, "give --node N or --all-nodes, not both");
            if (!sem && fmt is "github" or "sarif") return UsageError(io, $"--format {fmt} annotates policy lines and needs --semantic");

            var settings = Cli.Settings(parse);
            string[] specs = [parse.GetValue(oldArg)!, parse.GetValue(newArg)!];
            if (specs[0] == "-" && specs[1] == "-") return UsageError(io, "only one of OLD and NEW can be standard input");
            // The two sides are independent: read them at the same time.
            var loads = specs.Select(spec => Task.Run(() => (Side: DiffInput.Load(spec, settings, out var envError), Error: envError))).ToArray();
            Task.WaitAll(loads);
            var sides = new List<DiffSide>();
            for (int i = 0; i < 2; i++)
            {
                var (side, envError) = loads[i].Result;
                if (side is null) return UsageError(io, envError ?? $"cannot read '{specs[i]}'");
                sides.Add(side);
            }
            var errors = sides.SelectMany(s => s.Diagnostics.Sorted()).Where(d => d.Severity == Severity.Error).ToList();
            if (errors.Count > 0) return ReportErrors(io, fmt, errors);
            var (before, after) = (sides[0], sides[1]);

            if (sem)
            {
                if (before.World is null || after.World is null)
                    return UsageError(io, "a semantic diff compares inputs (policies and workloads), not images: give input files, directories or REV:PATH");
                var result = SemanticDiff.Compute(before.World, after.World);
                io.Out.Write(fmt switch
                {
                    "json" => DiffOutput.Json(result),
                    "github" => DiffOutput.Github(result),
                    "sarif" => DiffOutput.Sarif(result),
                    _ => DiffOutput.Text(result),
                });
                if (fmt is "github" or "sarif") io.Err.WriteLine("kmeshc: " + DiffOutput.Summary(result));
                return result.Equal ? Cli.Ok : Cli.Failed;
            }
            return Structural(io, before, after, nodeName, all, fmt == "json");
        });
        return cmd;
    }

    private static int UsageError(Cli.Io io, string message)
    {
        io.Err.WriteLine($"kmeshc: error: {message}");
        io.Err.WriteLine("Run 'kmeshc diff --help' for usage.");
        return Cli.Usage;
    }

    /// <summary>Input errors, in the form validate would print them, and exit 2: never a partial diff.</summary>
    private static int ReportErrors(Cli.Io io, string fmt, IReadOnlyList<Diagnostic> errors)
    {
        switch (fmt)
        {
            case "json": io.Out.Write(ValidateCommand.Json(errors)); break;
            case "sarif": io.Out.Write(ValidateCommand.Sarif(errors)); break;
            case "github": io.Out.Write(ValidateCommand.Github(errors)); break;
            default: io.Err.Write(ValidateCommand.Text(errors)); break;
        }
        io.Err.WriteLine($"kmeshc: the inputs have {errors.Count} error(s); no diff is computed");
        return Cli.Usage;
    }

    private static int Structural(Cli.Io io, DiffSide before, DiffSide after, string? nodeName, bool all, bool json)
    {
        List<string> nodes;
        if (before.Image is not null && after.Image is not null && nodeName is null && !all) nodes = [after.Image.Node];
        else if (all)
        {
            nodes = new[] { before, after }.SelectMany(NodesOf).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        }
        else if (nodeName is not null) nodes = [nodeName];
        else return UsageError(io, "a structural diff of inputs compares node images: give --node N or --all-nodes (or --semantic)");

        var results = new List<(string Node, IReadOnlyList<TableDiff> Tables)>();
        foreach (var n in nodes)
        {
            string? b = Render(io, before, n, out bool failedB);
            string? a = Render(io, after, n, out bool failedA);
            if (failedB || failedA) return Cli.Usage;
            results.Add((n, ImageDiff.Compare(b ?? "", a ?? "")));
        }
        if (json) io.Out.Write(DiffOutput.StructuralJson(results));
        else foreach (var (n, t) in results) io.Out.Write(DiffOutput.Structural(n, t));
        return results.All(r => r.Tables.Count == 0) ? Cli.Ok : Cli.Failed;
    }

    private static IEnumerable<string> NodesOf(DiffSide s) =>
        s.Image is not null ? [s.Image.Node]
        : s.World!.Nodes.Select(n => n.Name).Concat(s.World.Workloads.Select(w => w.Node)).Where(n => n.Length > 0);

    /// <summary>The text rendering of the side's image for the node: the image itself, or the
    /// inputs compiled for it (read back from its bytes, as inspect reads it).</summary>
    private static string? Render(Cli.Io io, DiffSide side, string node, out bool failed)
    {
        failed = false;
        if (side.Image is not null)
        {
            if (side.Image.Node != node)
            {
                io.Err.WriteLine($"kmeshc: error: the image '{side.Spec}' is for node {side.Image.Node}, not {node}");
                failed = true;
                return null;
            }
            return ImageText.Render(side.Image);
        }
        var bag = new DiagnosticBag();
        var image = Lowerer.Lower(side.World!, node, bag);
        if (image is null || bag.HasErrors)
        {
            foreach (var d in bag.Sorted().Where(d => d.Severity == Severity.Error)) io.Err.WriteLine(d.ToString());
            io.Err.WriteLine($"kmeshc: error: '{side.Spec}' does not compile for node {node}; no diff is computed");
            failed = true;
            return null;
        }
        var reread = ImageReader.Read(side.Spec, image.ToBytes(), new DiagnosticBag())
            ?? throw new InvalidOperationException("a freshly built image does not read back");
        return ImageText.Render(reread);
    }
}
