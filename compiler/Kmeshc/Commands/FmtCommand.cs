using System.CommandLine;
using System.Text;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Text;
using KmeshCompiler.IO;

namespace Kmeshc.Commands;

/// <summary><c>kmeshc fmt FILE... [--check]</c>: rewrites .kpl files (worlds and policy tests) in
/// canonical form, keeping their comments. A file with errors is reported and left untouched.</summary>
public static class FmtCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("FILE")
        {
            Description = ".kpl files or directories (searched for *.kpl), or - to format stdin to stdout.",
            Arity = ArgumentArity.OneOrMore,
        };
        var check = new Option<bool>("--check") { Description = "Change nothing; list the files that are not in canonical form and exit 1 if there are any." };
        var cmd = new Command("fmt", "Rewrite .kpl files in canonical form (sorted, one field per line, comments kept); the files that change are replaced together, atomically, or none is.");
        cmd.Arguments.Add(files);
        cmd.Options.Add(check);
        cmd.SetAction(r => Run(r, r.GetValue(files) ?? [], r.GetValue(check)));
        return cmd;
    }

    private static int Run(ParseResult r, string[] inputs, bool check)
    {
        var io = Cli.Current(r);
        var bag = new DiagnosticBag();
        bool environment = false;
        var paths = new List<string>();
        foreach (var input in inputs)
        {
            if (input == "-") { paths.Add("-"); continue; }
            var kind = FileKind.Missing;
            try { kind = FileStat.Of(input).Kind; }
            catch (IOException) { }
            if (kind == FileKind.Directory) paths.AddRange(InputFiles.List(input, p => p.EndsWith(".kpl", StringComparison.Ordinal), bag, ref environment));
            else paths.Add(input);
        }

        // A file named twice (or found twice) is formatted once: it is one output.
        paths = [.. paths.Distinct(StringComparer.Ordinal)];
        bool failed = false;
        var notCanonical = new List<string>();
        var outputs = new List<OutputFile>();
        foreach (var path in paths)
        {
            var fileBag = new DiagnosticBag();
            byte[]? bytes = path == "-"
                ? InputFiles.ReadBounded(Console.OpenStandardInput(), "-", fileBag)
                : InputFiles.Read(path, fileBag, ref environment);
            if (bytes is null) { bag.AddRange(fileBag.Items); failed = true; continue; }
            var source = new SourceText(path, bytes);
            if (InputKinds.Classify(source) is var kind and not InputKind.Kpl)
            {
                io.Err.WriteLine(Codes.NotKpl.Create(new KmeshCompiler.Ir.SourceLocation(path, 1, 1), (object)InputKinds.Describe(kind),
                    (object)"'kmeshc fmt' formats .kpl files; validate Kubernetes YAML with 'kmeshc validate'").ToString());
                failed = true;
                continue;
            }
            var doc = KplFrontend.ReadDocument(source, fileBag);
            foreach (var o in doc.Comments.Orphans) fileBag.Add(Codes.KplCommentDropped, o);
            bag.AddRange(fileBag.Items);
            if (fileBag.HasErrors || doc.Comments.Orphans.Count > 0) { failed = true; continue; }

            string canonical = KplPrinter.Print(doc);
            if (path == "-") { outputs.Add(new(OutputFiles.Stdout, Encoding.UTF8.GetBytes(canonical))); continue; }
            bool same = Encoding.UTF8.GetString(bytes) == canonical;
            if (same) continue;
            if (check) { notCanonical.Add(path); continue; }
            outputs.Add(new(path, Encoding.UTF8.GetBytes(canonical)));
        }
        foreach (var d in bag.Sorted()) io.Err.WriteLine(d.ToString());
        if (environment) return Cli.Usage;
        // Every file that formats is replaced together, or none is.
        if (!Cli.WriteOutputs(io, [.. outputs])) return Cli.Usage;
        foreach (var o in outputs.Where(o => o.Path != OutputFiles.Stdout)) io.Out.WriteLine($"formatted {o.Path}");
        foreach (var p in notCanonical) io.Out.WriteLine(p);
        if (notCanonical.Count > 0)
            io.Err.WriteLine($"{notCanonical.Count} file(s) not in canonical form; run 'kmeshc fmt {string.Join(' ', notCanonical)}'");
        return failed || notCanonical.Count > 0 ? Cli.Failed : Cli.Ok;
    }
}
