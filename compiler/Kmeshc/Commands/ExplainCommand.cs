using System.CommandLine;
using KmeshCompiler.Diagnostics;

namespace Kmeshc.Commands;

/// <summary><c>kmeshc explain CODE</c>: the documentation of one diagnostic code (docs/diagnostics.md).</summary>
public static class ExplainCommand
{
    public static Command Create()
    {
        var code = new Argument<string>("CODE") { Description = "A diagnostic code such as KM4013." };
        var cmd = new Command("explain", "Print the documentation of a diagnostic code: severity, name, message, what its family means and where it is documented.") { code };
        cmd.SetAction(r =>
        {
            var io = Cli.Current(r);
            string text = r.GetValue(code) ?? "";
            if (Catalogue.Find(text) is not { } hit)
            {
                string? near = NearMiss.DidYouMean(text.ToUpperInvariant(), Catalogue.All.Select(x => x.Descriptor.Code));
                io.Err.WriteLine($"kmeshc: error: '{text}' is not a diagnostic code" + (near is not null ? $"; did you mean '{near}'?" : "; codes look like KM4013 (docs/diagnostics.md lists them)"));
                return Cli.Usage;
            }
            io.Out.Write(DiagnosticDocs.Text(hit.Descriptor));
            return Cli.Ok;
        });
        return cmd;
    }
}
