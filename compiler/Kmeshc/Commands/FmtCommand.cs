using System.CommandLine;
using System.Text;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Text;

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
        var cmd = new Command("fmt", "Rewrite .kpl files in canonical form (sorted, one field per line, comments kept).");
        cmd.Arguments.Add(files);
        cmd.Options.Add(check);
        cmd.SetAction(r => Run(r, r.GetValue(files) ?? [], r.GetValue(check)));
        return cmd;
    }

    private static int Run(ParseResult r, string[] inputs, bool check)
    {
        var io = Cli.Current(r);
        var bag = new DiagnosticBag();
        var paths = new List<string>();
        foreach (var input in inputs)
        {
            if (input == "-") paths.Add("-");
            else if (Directory.Exists(input))
                paths.AddRange(Directory.EnumerateFiles(input, "*.kpl", SearchOption.AllDirectories).Select(f => f.Replace('\\', '/')).Order(StringComparer.Ordinal));
            else if (File.Exists(input)) paths.Add(input);
            else
            {
                io.Err.WriteLine(Codes.PathNotFound.Create(new KmeshCompiler.Ir.SourceLocation(input, 0, 0), input).ToString());
                return Cli.Usage;
            }
        }

        bool failed = false;
        var notCanonical = new List<string>();
        foreach (var path in paths)
        {
            byte[] bytes;
            try
            {
                long size = path == "-" ? 0 : new FileInfo(path).Length;
                if (size > InputLoader.MaxInputBytes)
                {
                    io.Err.WriteLine(Codes.InputTooLarge.Create(new KmeshCompiler.Ir.SourceLocation(path, 0, 0), path, size, InputLoader.MaxInputBytes).ToString());
                    failed = true;
                    continue;
                }
                bytes = path == "-" ? ReadAll(Console.OpenStandardInput()) : File.ReadAllBytes(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                io.Err.WriteLine($"{path}: error {Codes.PathNotFound.Code}: cannot read: {e.Message}");
                return Cli.Usage;
            }
            var fileBag = new DiagnosticBag();
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
            foreach (var d in fileBag.Sorted()) io.Err.WriteLine(d.ToString());
            bag.AddRange(fileBag.Items);
            if (fileBag.HasErrors || doc.Comments.Orphans.Count > 0) { failed = true; continue; }

            string canonical = KplPrinter.Print(doc);
            if (path == "-") { io.Out.Write(canonical); continue; }
            bool same = Encoding.UTF8.GetString(bytes) == canonical;
            if (same) continue;
            if (check) { notCanonical.Add(path); continue; }
            Cli.WriteAtomically(path, Encoding.UTF8.GetBytes(canonical));
            io.Out.WriteLine($"formatted {path}");
        }
        foreach (var p in notCanonical) io.Out.WriteLine(p);
        if (notCanonical.Count > 0)
            io.Err.WriteLine($"{notCanonical.Count} file(s) not in canonical form; run 'kmeshc fmt {string.Join(' ', notCanonical)}'");
        return failed || notCanonical.Count > 0 ? Cli.Failed : Cli.Ok;
    }

    private static byte[] ReadAll(Stream s)
    {
        using var ms = new MemoryStream();
        var buf = new byte[1 << 16];
        int n;
        while ((n = s.Read(buf, 0, buf.Length)) > 0)
        {
            if (ms.Length + n > InputLoader.MaxInputBytes) throw new IOException($"stdin is larger than {InputLoader.MaxInputBytes} bytes");
            ms.Write(buf, 0, n);
        }
        return ms.ToArray();
    }
}
