import {AbsoluteFill, interpolate, useCurrentFrame} from 'remotion';

type Props = {title: string; color: string};

export const HelloWorld: React.FC<Props> = ({title, color}) => {
  const frame = useCurrentFrame();
  const opacity = interpolate(frame, [0, 20], [0, 1], {extrapolateRight: 'clamp'});
  return (
    <AbsoluteFill style={{backgroundColor: color, justifyContent: 'center', alignItems: 'center'}}>
      <h1 style={{color: 'white', fontSize: 64, fontFamily: 'sans-serif', opacity}}>{title}</h1>
    </AbsoluteFill>
  );
};
