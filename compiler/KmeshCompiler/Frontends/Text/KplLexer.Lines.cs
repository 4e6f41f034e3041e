using Antlr4.Runtime;

namespace KmeshCompiler.Frontends.Text.Syntax;

/// <summary>The grammar expects one NL token between two lines. A comment line splits a run of line
/// ends into two NL tokens (the comment sits on the hidden channel between them); the second one is
/// moved to the hidden channel too, so for the parser a comment line is like a blank line.</summary>
// The generated half carries [CLSCompliant(false)], which this assembly does not declare.
#pragma warning disable CS3021
public partial class KplLexer
#pragma warning restore CS3021
{
    private int _lastVisible = -1;

    public override IToken NextToken()
    {
        var t = base.NextToken();
        if (t.Channel == DefaultTokenChannel)
        {
            if (t.Type == NL && _lastVisible == NL && t is CommonToken c) c.Channel = Hidden;
            else _lastVisible = t.Type;
        }
        return t;
    }

    public override void Reset()
    {
        base.Reset();
        _lastVisible = -1;
    }
}
