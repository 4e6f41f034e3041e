using System.CommandLine;
using System.Globalization;
using System.Text;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.IO;
using KmeshCompiler.Image;
using KmeshCompiler.Lowering;

namespace Kmeshc.Commands;

/// <summary><c>kmeshc compile INPUT... --node NODE -o IMAGE [--text FILE]</c>: build a node's image.
/// Errors (inputs, capacity, budgets) exit 1 and write nothing.</summary>
public static class CompileCommand
{
    public static Command Create()
    {
        var inputs = Cli.Inputs();
        var node = new Option<string>("--node") { Description = "The node the image is for (its workloads are authorized; load balancing is ranked from its locality).", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Where to write the image (a regular file, replaced atomically), or - for standard output.", Required = true };
        var text = new Option<string?>("--text") { Description = "Also write the image's text rendering (what kmeshc inspect prints) to this file, or - for standard output." };
        var cmd = new Command("compile", "Compile the inputs into the map image of one node.") { inputs, node, output, text };
        Cli.AddInputOptions(cmd);
        cmd.SetAction(parse =>
        {
            var io = Cli.Current(parse);
            string outputPath = parse.GetValue(output)!;
            string? textPath = parse.GetValue(text);
            if (!Cli.CheckOutputs(io, [outputPath, textPath], parse.GetValue(inputs) ?? [], InputLoader.IsDirectoryInput)) return Cli.Usage;
            var loaded = Cli.LoadOrReport(parse, parse.GetValue(inputs) ?? [], out int exit);
            if (loaded is null) return exit;
            var bag = new DiagnosticBag();
            var image = Lowerer.Lower(loaded.World, parse.GetValue(node)!, bag, null, out var stats);
            bool verbose = parse.GetValue(Cli.Verbose);
            foreach (var d in bag.Sorted())
                if (d.Severity >= Severity.Warning || verbose) io.Err.WriteLine(d.ToString());
            if (image is null || bag.HasErrors) return Cli.Failed;

            var bytes = image.ToBytes();
            // The text is rendered from the bytes as inspect reads them, so both always agree.
            var outputs = new List<OutputFile> { new(outputPath, bytes) };
            if (textPath is not null)
            {
                var check = new DiagnosticBag();
                var reread = ImageReader.Read(outputPath, bytes, check) ?? throw new InvalidOperationException("a freshly written image does not read back: " + string.Join("; ", check.Items));
                outputs.Add(new(textPath, Encoding.UTF8.GetBytes(ImageText.Render(reread))));
            }
            if (!Cli.WriteOutputs(io, [.. outputs])) return Cli.Usage;
            // The summary goes to stderr when stdout carries an output.
            var summaryTo = outputs.Any(o => o.Path == OutputFiles.Stdout) ? io.Err : io.Out;
            if (stats is not null)
                summaryTo.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{outputPath}: node {image.Node}, {stats.LocalWorkloads} workloads, {stats.Policies} policies, {bytes.Length} bytes, content {ImageFile.ContentHashOf(bytes)[..16]}"));
            if (stats is not null && verbose)
            {
                foreach (var spec in Layout.ImageMaps)
                {
                    int n = stats.Entries.GetValueOrDefault(spec.Name);
                    summaryTo.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {spec.Name,-16} {n,9} of {spec.MaxEntries,9} ({100.0 * n / spec.MaxEntries:0.0}%)"));
                }
                if (stats.Decisions is { } d)
                    summaryTo.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  decision table: {d.Entries} entries; covers {d.EvalsWithTable} of {d.Evals} evals ({d.CoveragePercent:0.0}%)"));
            }
            return Cli.Ok;
        });
        return cmd;
    }
}
