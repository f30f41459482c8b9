(function(){
  var root=document.documentElement;
  var calm=window.matchMedia&&window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  function show(target,focus){
    if(!target)return;
    target.scrollIntoView({behavior:calm?'auto':'smooth',block:'center'});
    target.classList.remove('flash');void target.offsetWidth;target.classList.add('flash');
    if(focus&&target.hasAttribute('tabindex'))target.focus({preventScroll:true});
  }
  // a click on an utterance's bar (mouse only: the transcript has the same text, in order)
  document.querySelectorAll('svg .utt-bar').forEach(function(el){
    el.addEventListener('click',function(){show(document.getElementById(el.getAttribute('data-target')),false);});
  });
  // a nudge mark is a link (keyboard and mouse): its card takes the focus, so Tab goes on from there
  document.querySelectorAll('svg a.nudge-link').forEach(function(a){
    a.addEventListener('click',function(ev){
      var id=(a.getAttribute('href')||'').slice(1);
      var target=document.getElementById(id);
      if(!target)return;
      ev.preventDefault();
      if(history.replaceState)history.replaceState(null,'','#'+id);
      show(target,true);
    });
  });
  var words=document.getElementById('timeline-text');
  document.querySelectorAll('a[href="#timeline-text"]').forEach(function(a){
    a.addEventListener('click',function(){if(words)words.open=true;});
  });
  window.addEventListener('beforeprint',function(){if(words)words.open=true;});
  var only=document.getElementById('only-nudged'), shown=document.getElementById('shown');
  if(only){only.addEventListener('change',function(){
    var all=document.querySelectorAll('.utt'), n=0;
    all.forEach(function(u){
      var hide=only.checked&&!u.querySelector('.nudge-card, mark');
      u.classList.toggle('hidden',hide);
      if(!hide)n++;
    });
    if(shown)shown.textContent=only.checked?'Showing '+n+' of '+all.length+' utterances.':'Showing all '+all.length+' utterances.';
  });}
  var svg=document.querySelector('svg.timeline');
  var bars=svg?svg.querySelectorAll('.utt-bar').length:0;
  root.setAttribute('data-timeline-bars',String(bars));
  root.setAttribute('data-ready',svg&&svg.getBBox().width>0?'1':'0');
})();
