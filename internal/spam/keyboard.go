package spam

// Keyboard geometry for spotting runs typed by sliding a finger along the keys.
//
// A step from one letter to the next is a "keyboard step" when the two keys are neighbours on one
// of the layouts below: side by side in a row (left or right), or one above the other in the
// slanted columns (q-a-z, w-s-x, …). A run is a chain of steps in the same direction on the same
// layout: "qwerty" is five rightward steps, "poiu" three leftward ones, "qaz" two downward ones.

const (
	dirNone = iota
	dirLeft
	dirRight
	dirUp
	dirDown
)

// layout is a keyboard layout's letter rows, top to bottom.
type layout struct {
	name string
	rows [3]string
}

var layouts = [...]layout{
	{"qwerty", [3]string{"qwertyuiop", "asdfghjkl", "zxcvbnm"}},
	{"azerty", [3]string{"azertyuiop", "qsdfghjklm", "wxcvbn"}},
	{"qwertz", [3]string{"qwertzuiop", "asdfghjkl", "yxcvbnm"}},
}

// stepTable[l][a][b] is the direction of the step from letter a to letter b on layout l, or dirNone.
type stepTable [len(layouts)][26][26]uint8

// homeRow marks the letters of the QWERTY middle row, where idle fingers rest and mashing starts;
// topRow those of the row above.
var (
	homeRow = letterSet("asdfghjkl")
	topRow  = letterSet("qwertyuiop")
)

var steps = buildSteps()

func buildSteps() *stepTable {
	t := new(stepTable)
	for li, l := range layouts {
		for r, row := range l.rows {
			for i := 0; i+1 < len(row); i++ {
				a, b := row[i]-'a', row[i+1]-'a'
				t[li][a][b] = dirRight
				t[li][b][a] = dirLeft
			}
			if r == 2 {
				continue
			}
			// The column below key i of this row is key i of the next row on these layouts
			// (the rows are staggered by about half a key, so the slant is the same for all).
			below := l.rows[r+1]
			for i := 0; i < len(row) && i < len(below); i++ {
				a, b := row[i]-'a', below[i]-'a'
				t[li][a][b] = dirDown
				t[li][b][a] = dirUp
			}
		}
	}
	return t
}

// letterSet returns a bit set of the lower-case ASCII letters in s.
func letterSet(s string) uint32 {
	var m uint32
	for i := 0; i < len(s); i++ {
		m |= 1 << (s[i] - 'a')
	}
	return m
}

// kbStats measures the keyboard runs in a word.
type kbStats struct {
	longest       int // the longest run on any layout, in letters
	longestCommon int // the longest run on QWERTY or AZERTY
	covered       int // letters inside a run of three or more on some layout
	coveredCommon int // letters inside a run of three or more on QWERTY or AZERTY
}

// keyboardStats measures the keyboard runs in w (lower-case ASCII letters). The "common" figures
// leave QWERTZ out, since its t-z and z-u neighbours turn real German names into runs ("Wertz",
// "Ertz").
func keyboardStats(w []byte) kbStats {
	var st kbStats
	var all, common [maxRunes]bool
	for li := range layouts {
		isCommon := layouts[li].name != "qwertz"
		tab := &steps[li]
		start, dir := 0, uint8(dirNone)
		for i := 1; i <= len(w); i++ {
			d := uint8(dirNone)
			if i < len(w) {
				d = tab[w[i-1]-'a'][w[i]-'a']
			}
			if d != dirNone && d == dir {
				continue
			}
			// The run w[start:i] ended (it has one direction, or is a single letter).
			if n := i - start; dir != dirNone {
				st.longest = max(st.longest, n)
				if isCommon {
					st.longestCommon = max(st.longestCommon, n)
				}
				if n >= 3 {
					for k := start; k < i; k++ {
						all[k] = true
						common[k] = common[k] || isCommon
					}
				}
			}
			if d == dirNone {
				start, dir = i, dirNone
			} else {
				start, dir = i-1, d
			}
		}
	}
	for i := range w {
		if all[i] {
			st.covered++
		}
		if common[i] {
			st.coveredCommon++
		}
	}
	return st
}
