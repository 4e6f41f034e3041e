using System.Diagnostics;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Text;

public class KplGrammarTests
{
    /// <summary>The checked-in parser (grammar/generated) is what grammar/Kpl.g4 generates with the
    /// pinned antlr-ng: regenerate into a temporary directory and compare file by file. Needs npm/npx;
    /// without them this fails (it never skips) and says what to install.</summary>
    [Fact]
    public void Generated_code_matches_the_grammar()
    {
        string script = Repo.Path("grammar", "regenerate.sh");
        string tmp = Path.Combine(Path.GetTempPath(), "kpl-regen-" + Guid.NewGuid().ToString("N"));
        try
        {
            var psi = new ProcessStartInfo("bash", [script, tmp])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = Repo.Path("grammar"),
            };
            Process p;
            try
            {
                p = Process.Start(psi)!;
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"cannot run grammar/regenerate.sh ({e.Message}): bash, Node.js and npm are needed to check the generated parser");
            }
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = p.StandardOutput.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
            {
                p.Kill(true);
                throw new Xunit.Sdk.XunitException("grammar/regenerate.sh did not finish in 5 minutes");
            }
            Assert.True(p.ExitCode == 0,
                p.ExitCode == 3
                    ? "npx is not installed: install Node.js and npm to check that grammar/generated matches grammar/Kpl.g4\n" + stderr.Result
                    : $"grammar/regenerate.sh failed with exit code {p.ExitCode}:\n{stderr.Result}{stdout.Result}");

            var expected = Directory.GetFiles(tmp, "*.cs").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
            var actual = Directory.GetFiles(Repo.Path("grammar", "generated"), "*.cs").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(expected, actual);
            Assert.NotEmpty(expected);
            foreach (var f in expected)
            {
                string want = File.ReadAllText(Path.Combine(tmp, f!)).Replace("\r\n", "\n");
                string have = File.ReadAllText(Repo.Path("grammar", "generated", f!)).Replace("\r\n", "\n");
                if (want != have)
                    throw new Xunit.Sdk.XunitException($"grammar/generated/{f} is stale: run grammar/regenerate.sh and commit the result\n{Golden.UnifiedDiff(have, want)}");
            }
        }
        finally
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        }
    }
}
